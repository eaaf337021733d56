"""VTK adapters: numpy slices to VTK images, colour tables, label surfaces. No Qt widgets here."""
