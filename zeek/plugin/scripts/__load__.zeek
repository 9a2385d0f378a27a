##! The plugin itself loads nothing; the package's scripts (MQTT_ML module) use its functions.
