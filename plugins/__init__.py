"""Built-in plugins of usannotator, one package each; installed as `usannotator_plugins`."""
