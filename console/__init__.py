"""The web console: review queue, incident briefs, friction explorer and run history."""
