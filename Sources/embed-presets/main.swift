print("embed-presets")
