"""Infrastructure as code for the lake, in Python on CDK Terrain (see cdktf/README.md)."""
