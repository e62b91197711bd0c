"""The embedded local stack: a moto server plus emulated triggers, built from template.yaml."""
