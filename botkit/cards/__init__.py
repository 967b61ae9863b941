"""Character Card V1/V2/V3 files: reading and writing the containers that carry them."""
