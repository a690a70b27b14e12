"""On-disk state under data-root. Only this package knows the layout and how files are written."""
