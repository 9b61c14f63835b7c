"""Supplier onboarding: registration on credit + commitment, verification,
qualification documents, credit lists and standing."""
