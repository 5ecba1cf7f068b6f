"""Core pages: the role-aware home page, health check and error pages."""
