"""Rasa SDK custom actions: answers from knowledge cards, routing, clarification.

The action server imports every module of this package
(`python -m rasa_sdk --actions actions`).
"""
