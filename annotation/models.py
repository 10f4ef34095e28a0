"""Campaign data lives here once campaigns are built (see DESIGN.md, flow 5)."""
