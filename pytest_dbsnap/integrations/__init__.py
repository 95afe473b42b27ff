"""Integrations with libraries a project may use; each imported only when used."""
