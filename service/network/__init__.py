"""Network status reports: sites or areas up, degraded or down, and the impacts they change."""
