"""UGC contest / hashtag challenge: photo, text or video-link entries, moderation, a public
gallery, public votes, jury scores, a published ranking rule and winners."""
