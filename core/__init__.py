"""The bottom layer: small pieces every app may use (locks, registries, page rules).

It imports only Django and the standard library, never an app of ours (docs/decisions.md,
"Apps in one-way layers").
"""
