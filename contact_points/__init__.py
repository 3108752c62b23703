"""Domain: the registry of ITU contact points and the routing of alerts and requests."""
