"""funnelhouse: batch ELT for sales and contact-centre analytics on ClickHouse."""

__version__ = "0.1.0"
