"""The Qt side of the kill switch: adapts ``core`` to widgets, threads and signals."""
