DROP TABLE watchlist_plates;
DROP TABLE watchlist_faces;
DROP TABLE watchlist_persons;
DROP TABLE watchlists;
