OC.L10N.register(
    "video_converter_fm",
    {
    "Conversion failed: {file}": "Umwandlung fehlgeschlagen: {file}",
    "Conversion finished: {file}": "Umwandlung abgeschlossen: {file}",
    "Convert into MKV": "In MKV umwandeln",
    "Convert into MP4": "In MP4 umwandeln",
    "Convert into WebM": "In WebM umwandeln",
    "Extract audio (MP3)": "Audio extrahieren (MP3)",
    "{file} could not be converted: {reason}": "{file} konnte nicht umgewandelt werden: {reason}",
    "{file} was converted to {output}": "{file} wurde in {output} umgewandelt"
},
"nplurals=2; plural=(n != 1);");
