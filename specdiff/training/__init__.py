"""specdiff.training: LightningModules, DataModule, callbacks and the LightningCLI entry."""
