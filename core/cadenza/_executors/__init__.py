"""Where agent work runs: the executor contract, the local and process executors, the run's set."""
