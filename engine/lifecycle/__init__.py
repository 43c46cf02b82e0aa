"""Dynamic deployment: retrain a registered model on new rows when a trigger fires, and promote
the challenger only when the gate proves it better on the newest labelled rows."""
