-- depends: 0010_visitor_read_from_chip
-- The photos a watch list was published with, kept (sealed like every face, README "Privacy
-- and evidence") so a guard can compare the listed photo with the captured face (issue 26).
-- They live as long as their entry: replaced with the list, gone with it.
CREATE TABLE watchlist_photos (
    id INTEGER PRIMARY KEY,
    person_row INTEGER NOT NULL REFERENCES watchlist_persons(id) ON DELETE CASCADE,
    photo BLOB NOT NULL
);
CREATE INDEX watchlist_photos_person ON watchlist_photos(person_row);
