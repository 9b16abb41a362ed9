"""Custom Rasa graph components for policybot (registered with Rasa's default recipe on import)."""
