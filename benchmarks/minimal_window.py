"""The start-up baseline: the least a PySide6 window with a 25-row table can do, timed by the same
probe as the app (``ui.startup_probe``). Run as ``python -m benchmarks.minimal_window``."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QMainWindow, QTableWidget, QTableWidgetItem

from ui import startup_probe


def main() -> int:
    app = QApplication(sys.argv[:1])
    startup_probe.install(app)
    window = QMainWindow()
    window.setObjectName("mainWindow")
    table = QTableWidget(25, 10)
    table.setObjectName("ordersTable")
    for row in range(25):
        for column in range(10):
            table.setItem(row, column, QTableWidgetItem(f"{row}.{column}"))
    window.setCentralWidget(table)
    window.resize(1280, 820)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
