"""Long durability and load runs against a real server (marker `soak`), with fast variants."""
