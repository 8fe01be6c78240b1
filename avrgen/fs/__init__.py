"""Files: atomic writes, the dotenv codec, the port lock, the output mutex."""
