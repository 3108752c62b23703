"""The browser app: its page in six languages, its assets, the base map it draws on."""
