"""The web pages: one blueprint package per group of pages, and what they share."""
