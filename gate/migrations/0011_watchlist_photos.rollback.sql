DROP TABLE watchlist_photos;
