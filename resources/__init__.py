"""Icons and sample notes, shipped in the wheel as the package deskfind_resources."""
