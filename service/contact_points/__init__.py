"""The contact-point registry (Res. 34 contact points and national contacts): routes, store."""
