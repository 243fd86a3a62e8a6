"""The suite: which modules a process runs (targets) and the `crm` command line."""
