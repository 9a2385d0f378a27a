##! Types the plugin's built-in functions use; loaded before them.

module MQTT_ML;

export {
	## What :zeek:id:`MQTT_ML::score` returns for one feature vector.
	type Score: record {
		## Mean squared reconstruction error of the scaled vector; -1 when scoring failed.
		score: double;
		## The threshold in force (see :zeek:id:`MQTT_ML::threshold`).
		threshold: double;
		## T when score > threshold.
		anomaly: bool;
		## The three features with the largest squared error, largest first.
		top_names: vector of string;
		## Their squared errors, in the same order.
		top_errors: vector of double;
	};
}
