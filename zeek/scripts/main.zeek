##! Scores every MQTT message with the mqtt-ml autoencoder, as the mqtt-ml Suricata plugin does.
##!
##! For each message Zeek's MQTT analyzer reports, this script builds the 11 features of the
##! mqtt-ml feature schema (v4: same names, order and transforms), from the message, the
##! connection's state and a bounded per-client table with the plugin's sliding window, scores
##! the vector with the MQTT_ML::Scoring plugin (libmqtt_ml.so), writes one mqtt_ml.log record
##! and raises MQTT_ML::Anomaly when the score exceeds the threshold. Zeek's events do not expose
##! everything the plugin reads from the wire; the package README lists, feature by feature, how
##! each one is filled here.

@load base/frameworks/notice
@load base/protocols/mqtt

module MQTT_ML;

export {
	redef enum Log::ID += { LOG };

	redef enum Notice::Type += {
		## A message scored above the threshold in force. ``msg`` names the
		## message type, the score, the threshold and the three features that
		## contributed most; ``sub`` holds the whole feature vector.
		Anomaly,
	};

	## The model: a ``.tflite`` file with its ``.json`` metadata beside it.
	## Empty: ``models/mqtt-ml.tflite`` of the source tree the plugin was
	## built from.
	option model_path = "";

	## ``native`` (built-in forward pass, no other library) or ``tflite``
	## (the TensorFlow Lite C library, found through ``$MQTT_ML_TFLITE_LIB``,
	## the system, then the mqtt-ml cache). Their scores agree to about 1e-6
	## (relative).
	option backend = "native";

	## ``p95``, ``p99``, ``p999`` (the model's benign percentiles), a number
	## as a string, or empty for the model's default.
	option threshold_name = "";

	## Log each message's feature vector (``features``) as well.
	option log_features = F;

	## Raise :zeek:enum:`MQTT_ML::Anomaly` notices.
	option notices = T;

	## How long a notice for the same client, server and message type is
	## suppressed.
	option notice_suppress = 10 min;

	## Note the TCP segment that carried each message from
	## :zeek:id:`tcp_packet` (``timed_by_segment`` in the log). This handles
	## every TCP packet of connections to :zeek:id:`MQTT_ML::ports`; turn it
	## off to save that cost (no feature depends on it).
	option segment_facts = T;

	## Server ports whose TCP segments are watched before the first MQTT
	## message (later segments of any connection with MQTT are watched).
	option ports: set[port] = { 1883/tcp };

	## The per-client sliding window, in seconds (the plugin's
	## ``source-window``).
	option source_window = 60;

	## Most client addresses tracked (the plugin's ``source-table-size``).
	option source_table_size = 65536;

	## One record per MQTT message.
	type Info: record {
		## Time of the packet that completed the message (``network_time``).
		ts: time &log;
		## Connection's unique id.
		uid: string &log;
		## Connection's endpoints; the originator is the MQTT client.
		id: conn_id &log;
		## Message type: ``connect``, ``connack``, ``publish``, ``puback``,
		## ``pubrec``, ``pubrel``, ``pubcomp``, ``subscribe``, ``suback``,
		## ``unsubscribe``, ``unsuback``, ``pingreq``, ``pingresp`` or
		## ``disconnect``.
		msgtype: string &log;
		## ``to_server`` (from the originator) or ``to_client``.
		direction: string &log;
		## 1-based position of the message on the connection (both directions).
		msg_index: count &log;
		## Mean squared reconstruction error of the scaled feature vector;
		## absent when no model is open.
		score: double &log &optional;
		## The threshold in force when it was scored.
		threshold: double &log &optional;
		## T when score > threshold.
		anomaly: bool &log &default=F;
		## The three features with the largest squared error, largest first.
		top_features: vector of string &log &optional;
		## Their squared errors (scaled units), in the same order.
		top_errors: vector of double &log &optional;
		## T when the TCP segment that carried the message was seen
		## (:zeek:id:`tcp_packet`, with :zeek:id:`MQTT_ML::segment_facts`).
		timed_by_segment: bool &log;
		## The raw feature vector (schema order, transformed, unscaled); only
		## with :zeek:id:`MQTT_ML::log_features`.
		features: vector of double &log &optional;
	};

	## Raised for every record written to mqtt_ml.log.
	global log_mqtt_ml: event(rec: Info);

	## What one MQTT message contributes to its feature vector, as far as
	## Zeek's events show it.
	type Msg: record {
		## Control packet type, 1-14.
		msgtype: count;
		## T when sent by the originator (client to broker).
		is_orig: bool;
		## Fixed-header QoS bits (PUBLISH; 1 for PUBREL, SUBSCRIBE and
		## UNSUBSCRIBE, whose flags the protocol fixes to 0010).
		qos: count &default=0;
		## PUBLISH DUP flag.
		dup: bool &default=F;
		## PUBLISH RETAIN flag.
		retain: bool &default=F;
		## Remaining length, rebuilt from the decoded fields.
		len: count &default=0;
		## Packet identifier (0 when the type has none).
		msgid: count &default=0;
		## CONNECT keep-alive, seconds.
		kalive: double &default=0.0;
		## CONNECT clean-session flag.
		cleansess: bool &default=F;
		## CONNECT user-name flag.
		uname: bool &default=F;
		## CONNECT password flag.
		passwd: bool &default=F;
		## CONNECT will flag.
		will: bool &default=F;
		## CONNECT client identifier length, bytes.
		clientid_len: count &default=0;
		## CONNECT protocol level (0 on other messages).
		ver: count &default=0;
		## CONNACK return code (CONNACK only).
		connack_code: count &optional;
		## PUBLISH topic length, bytes.
		topic_len: count &default=0;
		## PUBLISH payload length, bytes.
		payload_len: count &default=0;
		## A malformation visible in the decoded fields.
		malformed: bool &default=F;
	};

	## Per-connection state, kept on the connection record.
	type ConnState: record {
		## Messages so far, both directions.
		msgs: count &default=0;
		## CONNACKs so far.
		connacks: count &default=0;
		## CONNACKs with a non-zero return code so far.
		failed_auth: count &default=0;
		## QoS 2 PUBLISHes (DUP clear) not yet matched by a PUBCOMP.
		pending_qos2: count &default=0;
		## Start times (microseconds) of the oldest incomplete QoS 2 exchanges,
		## oldest first, at most 64.
		qos2_started: vector of count &default=vector();
		## Decayed message and byte counts (10 s time constant) and when they
		## were last updated, microseconds.
		rate_msgs: double &default=0.0;
		rate_bytes: double &default=0.0;
		rate_at: count &optional;
		## Hash of the CONNECT's user name and password, for its CONNACK.
		creds: string &optional;
		## This connection counts among its client's open connections.
		counted_open: bool &default=F;
		## Protocol level of the connection's CONNECT (0 until seen).
		version: count &default=0;
		## Flags byte of the latest data segment from the originator.
		orig_flags: count &optional;
		## Payload length of that segment.
		orig_len: count &default=0;
		## Flags byte of the latest data segment from the responder.
		resp_flags: count &optional;
		## Payload length of that segment.
		resp_len: count &default=0;
		## Topic count of each SUBSCRIBE not yet acknowledged, by packet
		## identifier (a SUBACK has one return code per topic).
		subscribes: table[count] of count &default=table();
	};

	## Counts of one client address in the sliding window.
	type SourceCounts: record {
		## CONNECTs from the address.
		connects: count &default=0;
		## Refused CONNACKs sent to the address.
		failed_auth: count &default=0;
		## Distinct credentials among the refused logins (at most 32).
		refused_secrets: count &default=0;
		## Connections of the address that sent CONNECT and have not ended.
		open: count &default=0;
	};

	## The feature vector of message ``m`` on connection ``c``, updating the
	## connection's and the client's counters: what :zeek:id:`MQTT_ML::score`
	## takes (schema order, transformed as the schema says, not scaled).
	global features: function(c: connection, m: Msg): vector of double;
}

redef record connection += {
	## mqtt-ml's per-connection state.
	mqtt_ml: ConnState &optional;
};

# Which packet types Zeek reports, by number.
const type_names: table[count] of string = {
	[1] = "connect",
	[2] = "connack",
	[3] = "publish",
	[4] = "puback",
	[5] = "pubrec",
	[6] = "pubrel",
	[7] = "pubcomp",
	[8] = "subscribe",
	[9] = "suback",
	[10] = "unsubscribe",
	[11] = "unsuback",
	[12] = "pingreq",
	[13] = "pingresp",
	[14] = "disconnect",
};

const BUCKETS = 6;
const EVICTION_SAMPLE = 16;

# The sliding-window buckets of one client address, as in the plugin's source table.
type SourceEntry: record {
	epochs: vector of count;
	connects: vector of count;
	failed: vector of count;
	last_seen: count;
	## Refused credential hashes and the bucket index they were last refused in.
	secrets: table[string] of count &default=table();
	open: count &default=0;
};

const SECRETS = 32;
const RATE_TAU = 10.0;

global sources: table[addr] of SourceEntry;
global last_sweep = 0;
global model_ready = F;

# Set by features() for the record being built.
global last_timed = F;

function log1p(x: double): double
	{
	return x <= 0.0 ? 0.0 : ln(1.0 + x);
	}

function b2d(x: bool): double
	{
	return x ? 1.0 : 0.0;
	}

function micros(t: time): count
	{
	return double_to_count(floor(time_to_double(t) * 1000000.0 + 0.5));
	}

function seconds_between(earlier: count, later: count): double
	{
	return later > earlier ? count_to_double(later - earlier) / 1000000.0 : 0.0;
	}

# TCP flags string of tcp_packet ("SFRAPUEC" letters) as the header byte.
function flags_byte(flags: string): count
	{
	local v = 0;
	if ( "F" in flags )
		v += 1;
	if ( "S" in flags )
		v += 2;
	if ( "R" in flags )
		v += 4;
	if ( "P" in flags )
		v += 8;
	if ( "A" in flags )
		v += 16;
	if ( "U" in flags )
		v += 32;
	if ( "E" in flags )
		v += 64;
	if ( "C" in flags )
		v += 128;
	return v;
	}

# Bytes of the remaining-length varint.
function varint_len(n: count): count
	{
	if ( n < 128 )
		return 1;
	if ( n < 16384 )
		return 2;
	if ( n < 2097152 )
		return 3;
	return 4;
	}

function state(c: connection): ConnState
	{
	if ( ! c?$mqtt_ml )
		c$mqtt_ml = ConnState();
	return c$mqtt_ml;
	}

function bucket_width(): count
	{
	local secs = source_window > 0 ? source_window : 1;
	local w = secs * 1000000 / BUCKETS;
	return w > 0 ? w : 1;
	}

function window_total(e: SourceEntry, epoch: count): SourceCounts
	{
	local t = SourceCounts($open=e$open);
	for ( i in e$epochs )
		{
		if ( e$epochs[i] + BUCKETS > epoch && e$epochs[i] <= epoch )
			{
			t$connects += e$connects[i];
			t$failed_auth += e$failed[i];
			}
		}
	for ( h, ep in e$secrets )
		{
		if ( ep + BUCKETS > epoch && ep <= epoch )
			t$refused_secrets += 1;
		}
	return t;
	}

# Drops addresses idle for a whole window (at most once per bucket width), then, if still
# full, the least recently seen of a small sample: the plugin's bounded-table policy.
function make_room(now: count)
	{
	local window = (source_window > 0 ? source_window : 1) * 1000000;
	if ( now >= last_sweep + bucket_width() )
		{
		last_sweep = now;
		local idle: set[addr] = set();
		for ( a, e in sources )
			{
			if ( e$open == 0 && now >= e$last_seen + window )
				add idle[a];
			}
		for ( a in idle )
			delete sources[a];
		}
	if ( |sources| < source_table_size )
		return;
	local n = 0;
	local victim: addr;
	local oldest = 0;
	for ( a, e in sources )
		{
		if ( n == 0 || e$last_seen < oldest )
			{
			victim = a;
			oldest = e$last_seen;
			}
		n += 1;
		if ( n >= EVICTION_SAMPLE )
			break;
		}
	if ( n > 0 )
		delete sources[victim];
	}

# Counts what client `a` did at `now` (microseconds): "connect", "failed" (a refused CONNACK,
# with the hash of the refused credentials or ""), "closed" (a connection that had sent CONNECT
# ended) or "" (nothing), and returns the counts in the window ending at `now`. Only a CONNECT or
# a refusal claims a place in the table.
function observe_source(a: addr, what: string, secret: string, now: count): SourceCounts
	{
	local epoch = now / bucket_width();
	if ( what == "" || ( what == "closed" && a !in sources ) )
		return a in sources ? window_total(sources[a], epoch) : SourceCounts();
	if ( a !in sources )
		{
		if ( |sources| >= source_table_size )
			make_room(now);
		sources[a] = SourceEntry($epochs=vector(0, 0, 0, 0, 0, 0),
		    $connects=vector(0, 0, 0, 0, 0, 0), $failed=vector(0, 0, 0, 0, 0, 0),
		    $last_seen=0);
		}
	local e = sources[a];
	if ( now > e$last_seen )
		e$last_seen = now;
	if ( what == "closed" )
		{
		if ( e$open > 0 )
			e$open -= 1;
		return window_total(e, epoch);
		}
	local i = epoch % BUCKETS;
	if ( e$epochs[i] != epoch )
		{
		e$epochs[i] = epoch;
		e$connects[i] = 0;
		e$failed[i] = 0;
		}
	if ( what == "connect" )
		{
		e$connects[i] += 1;
		e$open += 1;
		}
	else
		{
		e$failed[i] += 1;
		if ( secret != "" )
			{
			if ( secret !in e$secrets && |e$secrets| >= SECRETS )
				{
				# Forget the oldest refused secret.
				local oldest = "";
				local oldest_epoch = 0;
				local first = T;
				for ( h, ep in e$secrets )
					{
					if ( first || ep < oldest_epoch )
						{
						oldest = h;
						oldest_epoch = ep;
						first = F;
						}
					}
				delete e$secrets[oldest];
				}
			e$secrets[secret] = epoch;
			}
		}
	return window_total(e, epoch);
	}

# The connection ended (or its session did: a refused login, a DISCONNECT): it no longer holds
# one of its client's slots.
function close_session(c: connection, now: count)
	{
	if ( ! c?$mqtt_ml || ! c$mqtt_ml$counted_open )
		return;
	c$mqtt_ml$counted_open = F;
	observe_source(c$id$orig_h, "closed", "", now);
	}

# A CONNACK refusing the credentials or the right to connect (the plugin's is_auth_refusal):
# 3.1.1 codes 4 and 5, MQTT 5 reason codes 0x86, 0x87, 0x8A and 0x8C. A protocol-version
# refusal before a client falls back to 3.1.1 is not a failed login.
function auth_refusal(code: count): bool
	{
	return code == 4 || code == 5 || code == 0x86 || code == 0x87 || code == 0x8A || code == 0x8C;
	}

function features(c: connection, m: Msg): vector of double
	{
	local st = state(c);
	local now = micros(network_time());

	# The connection so far (the plugin's FlowStats).
	st$msgs += 1;
	if ( m?$connack_code )
		{
		st$connacks += 1;
		if ( auth_refusal(m$connack_code) )
			st$failed_auth += 1;
		}
	if ( m$msgtype == 3 && m$qos == 2 && ! m$dup )
		{
		st$pending_qos2 += 1;
		if ( |st$qos2_started| < 64 )
			st$qos2_started += now;
		}
	else if ( m$msgtype == 7 && st$pending_qos2 > 0 )
		{
		st$pending_qos2 -= 1;
		if ( |st$qos2_started| > st$pending_qos2 )
			{
			local rest: vector of count = vector();
			for ( i in st$qos2_started )
				if ( i > 0 )
					rest += st$qos2_started[i];
			st$qos2_started = rest;
			}
		}
	local qos2_age = |st$qos2_started| > 0 ? seconds_between(st$qos2_started[0], now) : 0.0;
	# Decayed message and byte rates (out-of-order times decay nothing).
	local dt = st?$rate_at ? seconds_between(st$rate_at, now) : 0.0;
	local decay = exp(-dt / RATE_TAU);
	local wire_len = 1 + varint_len(m$len) + m$len;
	st$rate_msgs = st$rate_msgs * decay + 1.0;
	st$rate_bytes = st$rate_bytes * decay + count_to_double(wire_len);
	if ( ! st?$rate_at || now > st$rate_at )
		st$rate_at = now;

	# The client address across connections.
	local what = "";
	local secret = "";
	if ( m$msgtype == 1 && m$is_orig && ! st$counted_open )
		{
		what = "connect";
		st$counted_open = T;
		}
	else if ( m?$connack_code && auth_refusal(m$connack_code) && ! m$is_orig )
		{
		what = "failed";
		secret = st?$creds ? st$creds : "";
		}
	local src = observe_source(c$id$orig_h, what, secret, now);
	# A refused login or a DISCONNECT ends the session.
	if ( ( m?$connack_code && m$connack_code != 0 && ! m$is_orig ) || ( m$msgtype == 14 && m$is_orig ) )
		close_session(c, now);

	last_timed = ( m$is_orig && st?$orig_flags ) || ( ! m$is_orig && st?$resp_flags );
	local refused = m?$connack_code && m$connack_code != 0;
	return vector(
		count_to_double(m$msgtype),                    # msgtype
		b2d(! m$is_orig),                              # direction
		b2d(m$malformed),                              # malformed
		b2d(refused),                                  # refused
		log1p(st$rate_msgs / RATE_TAU),                # flow_msg_rate
		log1p(st$rate_bytes / RATE_TAU),               # flow_byte_rate
		log1p(count_to_double(st$failed_auth)),        # flow_failed_auth
		log1p(qos2_age),                               # qos2_pending_age
		log1p(count_to_double(src$failed_auth)),       # src_failed_auth
		log1p(count_to_double(src$refused_secrets)),   # src_refused_secrets
		log1p(count_to_double(src$open))               # src_open
	);
	}

function join_vec(v: vector of string): string
	{
	return join_string_vec(v, ",");
	}

function process(c: connection, m: Msg)
	{
	local v = features(c, m);
	local info = Info($ts=network_time(), $uid=c$uid, $id=c$id,
	    $msgtype=type_names[m$msgtype], $direction=m$is_orig ? "to_server" : "to_client",
	    $msg_index=c$mqtt_ml$msgs, $timed_by_segment=last_timed);
	if ( log_features )
		info$features = v;
	if ( model_ready )
		{
		local s = MQTT_ML::score(v);
		if ( s$score >= 0.0 )
			{
			info$score = s$score;
			info$threshold = s$threshold;
			info$anomaly = s$anomaly;
			info$top_features = s$top_names;
			info$top_errors = s$top_errors;
			}
		}
	Log::write(MQTT_ML::LOG, info);

	if ( info$anomaly && notices )
		NOTICE([$note=Anomaly, $conn=c,
		    $msg=fmt("MQTT %s %s scored %.6g above the threshold %.6g (top features: %s)",
		        info$msgtype, info$direction, info$score, info$threshold,
		        join_vec(info$top_features)),
		    $sub=fmt("features %s", v),
		    $identifier=cat(c$id$orig_h, c$id$resp_h, info$msgtype),
		    $suppress_for=notice_suppress]);
	}

# Malformations visible in decoded CONNECT fields (the plugin's connect checks that do not need
# the raw flags byte).
function connect_malformed(msg: MQTT::ConnectMsg): bool
	{
	local level = msg$protocol_version;
	local name = msg$protocol_name;
	if ( name == "MQTT" && level != 4 && level != 5 )
		return T;
	if ( name == "MQIsdp" && level != 3 )
		return T;
	if ( name != "MQTT" && name != "MQIsdp" )
		return T;
	if ( msg$will_qos == 3 )
		return T;
	if ( ! msg?$will_topic && ( msg$will_qos != 0 || msg$will_retain ) )
		return T;
	if ( msg?$password && ! msg?$username && level != 5 )
		return T;
	return F;
	}

function string_field_len(s: string): count
	{
	return 2 + |s|;
	}

function reopen()
	{
	local path = model_path == "" ? MQTT_ML::default_model() : model_path;
	model_ready = MQTT_ML::open(path, backend);
	if ( ! model_ready )
		return;
	if ( MQTT_ML::threshold(threshold_name) < 0.0 )
		Reporter::error(fmt("MQTT_ML::threshold_name '%s' is not p95, p99, p999 or a number; using the model's default",
		    threshold_name));
	}

function on_option_change(id: string, new_value: string): string
	{
	# Change handlers run before the new value is set: apply it by hand.
	local path = id == "MQTT_ML::model_path" ? new_value : model_path;
	local be = id == "MQTT_ML::backend" ? new_value : backend;
	local tn = id == "MQTT_ML::threshold_name" ? new_value : threshold_name;
	if ( id == "MQTT_ML::threshold_name" && model_ready )
		{
		if ( MQTT_ML::threshold(tn) < 0.0 )
			Reporter::error(fmt("MQTT_ML::threshold_name '%s' is not p95, p99, p999 or a number", tn));
		return new_value;
		}
	model_ready = MQTT_ML::open(path == "" ? MQTT_ML::default_model() : path, be);
	if ( model_ready )
		MQTT_ML::threshold(tn);
	return new_value;
	}

event zeek_init() &priority=5
	{
	Log::create_stream(MQTT_ML::LOG, [$columns=Info, $ev=log_mqtt_ml, $path="mqtt_ml"]);
	reopen();
	Option::set_change_handler("MQTT_ML::model_path", on_option_change);
	Option::set_change_handler("MQTT_ML::backend", on_option_change);
	Option::set_change_handler("MQTT_ML::threshold_name", on_option_change);
	}

event tcp_packet(c: connection, is_orig: bool, flags: string, seq: count, ack: count, len: count, payload: string)
	{
	if ( ! segment_facts || len == 0 )
		return;
	if ( ! c?$mqtt_ml )
		{
		if ( c$id$resp_p !in ports )
			return;
		c$mqtt_ml = ConnState();
		}
	if ( is_orig )
		{
		c$mqtt_ml$orig_flags = flags_byte(flags);
		c$mqtt_ml$orig_len = len;
		}
	else
		{
		c$mqtt_ml$resp_flags = flags_byte(flags);
		c$mqtt_ml$resp_len = len;
		}
	}

event mqtt_connect(c: connection, msg: MQTT::ConnectMsg)
	{
	local len = string_field_len(msg$protocol_name) + 4 + string_field_len(msg$client_id);
	if ( msg?$will_topic )
		len += string_field_len(msg$will_topic) + string_field_len(msg?$will_msg ? msg$will_msg : "");
	if ( msg?$username )
		len += string_field_len(msg$username);
	if ( msg?$password )
		len += string_field_len(msg$password);
	local st = state(c);
	st$version = msg$protocol_version;
	st$creds = md5_hash(cat(msg?$username ? msg$username : "", "\x00",
	    msg?$password ? msg$password : "", msg?$username, msg?$password));
	process(c, Msg($msgtype=1, $is_orig=T, $len=len,
	    $kalive=interval_to_double(msg$keep_alive), $cleansess=msg$clean_session,
	    $uname=msg?$username, $passwd=msg?$password, $will=msg?$will_topic,
	    $clientid_len=|msg$client_id|, $ver=msg$protocol_version,
	    $malformed=connect_malformed(msg)));
	}

event mqtt_connack(c: connection, msg: MQTT::ConnectAckMsg)
	{
	local v3 = state(c)$version != 5;
	process(c, Msg($msgtype=2, $is_orig=F, $len=2, $connack_code=msg$return_code,
	    $malformed=v3 && msg$return_code > 5));
	}

event mqtt_publish(c: connection, is_orig: bool, msg_id: count, msg: MQTT::PublishMsg)
	{
	local topic = msg$topic;
	local len = string_field_len(topic) + (msg$qos > 0 ? 2 : 0) + msg$payload_len;
	local bad = msg$qos == 3 || |topic| == 0 || /[+#]/ in topic || ( msg$qos > 0 && msg_id == 0 );
	process(c, Msg($msgtype=3, $is_orig=is_orig, $qos=msg$qos, $dup=msg$dup,
	    $retain=msg$retain, $len=len, $msgid=msg_id, $topic_len=|topic|,
	    $payload_len=msg$payload_len, $malformed=bad));
	}

function ack_message(c: connection, msgtype: count, is_orig: bool, msg_id: count)
	{
	# PUBREL's fixed-header flags are 0010: QoS bits 1.
	process(c, Msg($msgtype=msgtype, $is_orig=is_orig, $qos=msgtype == 6 ? 1 : 0, $len=2,
	    $msgid=msg_id, $malformed=msg_id == 0));
	}

event mqtt_puback(c: connection, is_orig: bool, msg_id: count)
	{
	ack_message(c, 4, is_orig, msg_id);
	}

event mqtt_pubrec(c: connection, is_orig: bool, msg_id: count)
	{
	ack_message(c, 5, is_orig, msg_id);
	}

event mqtt_pubrel(c: connection, is_orig: bool, msg_id: count)
	{
	ack_message(c, 6, is_orig, msg_id);
	}

event mqtt_pubcomp(c: connection, is_orig: bool, msg_id: count)
	{
	ack_message(c, 7, is_orig, msg_id);
	}

event mqtt_subscribe(c: connection, msg_id: count, topics: string_vec, requested_qos: index_vec)
	{
	local st = state(c);
	local len = 2;
	local bad = |topics| == 0 || msg_id == 0;
	for ( i in topics )
		{
		len += string_field_len(topics[i]) + 1;
		if ( |topics[i]| == 0 )
			bad = T;
		}
	for ( i in requested_qos )
		{
		local opt = requested_qos[i];
		# QoS 3, or reserved option bits (all of bits 2-7 before MQTT 5, 6-7 and
		# retain-handling 3 in MQTT 5).
		if ( opt % 4 == 3 )
			bad = T;
		if ( st$version == 5 ? ( opt >= 64 || opt / 16 % 4 == 3 ) : opt >= 4 )
			bad = T;
		}
	if ( |st$subscribes| < 1024 )
		st$subscribes[msg_id] = |topics|;
	process(c, Msg($msgtype=8, $is_orig=T, $qos=1, $len=len, $msgid=msg_id, $malformed=bad));
	}

event mqtt_suback(c: connection, msg_id: count, granted_qos: count)
	{
	local st = state(c);
	local n = 1;
	if ( msg_id in st$subscribes )
		{
		n = st$subscribes[msg_id];
		delete st$subscribes[msg_id];
		}
	process(c, Msg($msgtype=9, $is_orig=F, $len=2 + n, $msgid=msg_id, $malformed=msg_id == 0));
	}

event mqtt_unsubscribe(c: connection, msg_id: count, topics: string_vec)
	{
	local len = 2;
	local bad = |topics| == 0 || msg_id == 0;
	for ( i in topics )
		{
		len += string_field_len(topics[i]);
		if ( |topics[i]| == 0 )
			bad = T;
		}
	process(c, Msg($msgtype=10, $is_orig=T, $qos=1, $len=len, $msgid=msg_id, $malformed=bad));
	}

event mqtt_unsuback(c: connection, msg_id: count)
	{
	process(c, Msg($msgtype=11, $is_orig=F, $len=2, $msgid=msg_id, $malformed=msg_id == 0));
	}

event mqtt_pingreq(c: connection)
	{
	process(c, Msg($msgtype=12, $is_orig=T));
	}

event mqtt_pingresp(c: connection)
	{
	process(c, Msg($msgtype=13, $is_orig=F));
	}

event mqtt_disconnect(c: connection)
	{
	process(c, Msg($msgtype=14, $is_orig=T));
	}

event connection_state_remove(c: connection)
	{
	# Nothing outlives the connection but the per-client window (bounded separately).
	close_session(c, micros(network_time()));
	if ( c?$mqtt_ml )
		delete c$mqtt_ml;
	}
