"""All Qt: the main window, slice and 3D views, docks, dialogs and the job-runner threads."""
