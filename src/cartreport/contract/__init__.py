"""The data contract (:mod:`.schema`) and its validation: every problem of a table at once."""
