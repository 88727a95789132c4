"""The console API, one router per page or concern; ``gate.console.app`` assembles them."""
