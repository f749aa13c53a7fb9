"""Model-server overhead and batching throughput on MobileNet v1, side by side in one run.

The same SavedModel (MobileNet v1 as the image pipeline trains it: α 0.25, 32 px, 10 classes,
untrained weights; a float [N, 32, 32, 3] signature) is called:
  * directly: the loaded signature function in this process (the floor), invoked as the server
    invokes it (serving.core.loader.traced_signature) and with the same TensorFlow thread pools
    (serving.server.tensorflow_thread_pools), so the difference measures the server and not a
    call-path or thread-pool mismatch; and, for reference, the restored signature as a user
    calls it;
  * over REST and gRPC: `python -m serving.server` in a subprocess, batch 1, one client on a
    persistent connection / channel; request bodies are built once, the answer is parsed;
  * the same model converted to LiteRT: directly (one interpreter) and over gRPC from a
    server started with --prefer_tflite_model;
  * with 32 concurrent gRPC clients (closed loop, batch 1 each, asynchronous stub calls)
    against a server with batching off and on, next to a direct batched call (batch 32) and
    the constant-answer grpcio servicer (what any Python gRPC server answers on these cores).
Latency: p50 / p99 over interleaved rounds. Writes benchmarks/results/serving_overhead.{json,md}.

    python -m benchmarks.serving_overhead [--requests 400] [--seconds 8] [--threads 1,1]
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from benchmarks import results as benchmark_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENTS = 32
# One batch thread: on 2 cores a second concurrent batch only competes for the same cores.
BATCHING = ("max_batch_size { value: 32 }\nbatch_timeout_micros { value: 5000 }\n"
            "max_enqueued_batches { value: 64 }\nnum_batch_threads { value: 1 }\n")


def export_model(base: str) -> str:
    import tensorflow as tf

    from models.image_classification.mobilenet_v1 import mobilenet_v1

    model = mobilenet_v1(resolution=32, alpha=0.25, classes=10)

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32, name="images")])
    def serve(images):
        return {"probabilities": model(images, training=False)}

    path = os.path.join(base, "mobilenet", "1")
    tf.saved_model.save(model, path, signatures={"serving_default": serve})
    # The LiteRT twin, picked up only by a server started with --prefer_tflite_model.
    tflite = tf.lite.TFLiteConverter.from_saved_model(path).convert()
    with open(os.path.join(path, "model.tflite"), "wb") as f:
        f.write(tflite)
    return path


def start_server(base: str, batching_file: str | None, extra_flags: tuple[str, ...] = (),
                 bare: bool = False) -> tuple[subprocess.Popen, int, int]:
    """The model server in a subprocess (or, `bare`, the constant-answer grpcio server)."""
    args = [sys.executable, "-m", "serving.server", "--port=0", "--rest_api_port=0",
            "--model_name=mobilenet", f"--model_base_path={base}",
            "--file_system_poll_wait_seconds=0",
            "--grpc_max_threads=40"] + list(extra_flags)
    if bare:
        args = [sys.executable, "-m", "benchmarks.serving_overhead", "--bare-grpc-server"]
    if batching_file:
        args += ["--enable_batching", f"--batching_parameters_file={batching_file}"]
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("READY"):
            grpc_port = int(line.split("grpc=")[1].split()[0].rsplit(":", 1)[1])
            rest_port = int(line.split("rest=")[1].rsplit(":", 1)[1])
            return process, grpc_port, rest_port
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError("model server did not start")


def bare_grpc_server() -> None:
    """grpcio alone: a PredictionService whose Predict returns a constant answer of the
    model's output shape, on the same thread pool as the model server. Its round trip is the
    floor any Python gRPC server pays on this machine; the model server's overhead beyond
    it is its own. Prints READY like the model server, then serves until killed."""
    from concurrent import futures

    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    answer = predict_pb2.PredictResponse()
    answer.model_spec.name = "mobilenet"
    answer.outputs["probabilities"].CopyFrom(tf.make_tensor_proto(np.full((1, 10), 0.1,
                                                                          np.float32)))

    class Bare(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):  # noqa: N802 - gRPC method name
            return answer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=40))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Bare(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"READY grpc=127.0.0.1:{port} rest=127.0.0.1:0", flush=True)
    server.wait_for_termination()


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()), "n": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="latency samples per path")
    parser.add_argument("--seconds", type=float, default=8.0, help="throughput window")
    parser.add_argument("--threads", default="",
                        help="INTRA,INTER TensorFlow pools for the servers and the direct "
                             "call (default: the server's defaults)")
    parser.add_argument("--server-flag", action="append", default=[],
                        help="extra model-server flag, repeatable")
    parser.add_argument("--bare-grpc-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_grpc_server:
        bare_grpc_server()
        return

    from serving.server import tensorflow_thread_pools

    intra, inter = (int(x) for x in args.threads.split(",")) if args.threads else (0, 0)
    intra, inter = tensorflow_thread_pools(intra, inter)
    import grpc
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    # Before any op runs: the direct call gets the pools the servers get.
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    args.pools = {"intra_op": intra, "inter_op": inter}

    work = tempfile.mkdtemp(prefix="serving-bench-")
    model_dir = export_model(work)
    base = os.path.dirname(model_dir)
    batching_file = os.path.join(work, "batching.txt")
    with open(batching_file, "w") as f:
        f.write(BATCHING)
    flags = tuple(args.server_flag) + (f"--tensorflow_intra_op_parallelism={intra}",
                                       f"--tensorflow_inter_op_parallelism={inter}")
    servers = {"off": start_server(base, None, flags),
               "on": start_server(base, batching_file, flags),
               "tflite": start_server(base, None, flags + ("--prefer_tflite_model",)),
               "bare": start_server(base, None, bare=True)}
    try:
        rng = np.random.default_rng(0)
        image = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
        from serving.core.loader import traced_signature

        loaded = tf.saved_model.load(model_dir)
        restored = loaded.signatures["serving_default"]
        # The matched direct call: the signature invoked as the server invokes it.
        function = traced_signature(restored)

        def direct() -> None:
            function(images=tf.constant(image))["probabilities"].numpy()

        def direct_restored() -> None:
            restored(images=tf.constant(image))["probabilities"].numpy()

        runner = Interpreter(model_path=os.path.join(model_dir, "model.tflite")
                             ).get_signature_runner("serving_default")

        def direct_tflite() -> None:
            np.array(runner(images=image)["probabilities"])

        _, grpc_port, rest_port = servers["off"]
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "mobilenet"
        request.inputs["images"].CopyFrom(tf.make_tensor_proto(image))

        def over_grpc() -> None:
            tf.make_ndarray(stub.Predict(request, timeout=30).outputs["probabilities"])

        tflite_channel = grpc.insecure_channel(f"127.0.0.1:{servers['tflite'][1]}")
        tflite_stub = prediction_service_pb2_grpc.PredictionServiceStub(tflite_channel)

        def over_grpc_tflite() -> None:
            tf.make_ndarray(tflite_stub.Predict(request, timeout=30).outputs["probabilities"])

        bare_channel = grpc.insecure_channel(f"127.0.0.1:{servers['bare'][1]}")
        bare_stub = prediction_service_pb2_grpc.PredictionServiceStub(bare_channel)

        def over_bare_grpc() -> None:
            tf.make_ndarray(bare_stub.Predict(request, timeout=30).outputs["probabilities"])

        connection = http.client.HTTPConnection("127.0.0.1", rest_port, timeout=30)
        body = json.dumps({"instances": image.tolist()}).encode()

        def over_rest() -> None:
            connection.request("POST", "/v1/models/mobilenet:predict", body=body)
            answer = connection.getresponse().read()
            np.asarray(json.loads(answer)["predictions"], np.float32)

        paths = {"direct": direct, "direct_restored": direct_restored,
                 "grpc": over_grpc, "rest": over_rest,
                 "direct_tflite": direct_tflite, "grpc_tflite": over_grpc_tflite,
                 "grpc_bare": over_bare_grpc}
        for fn in paths.values():  # warm up (tracing, connections)
            for _ in range(30):
                fn()
        samples: dict[str, list[float]] = {k: [] for k in paths}
        rounds = 4
        for _ in range(rounds):  # interleave so drift hits every path alike
            for name, fn in paths.items():
                for _ in range(args.requests // rounds):
                    start = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - start)
        latency = {k: percentiles(v) for k, v in samples.items()}
        channel.close()
        tflite_channel.close()
        bare_channel.close()
        connection.close()

        throughput = {}
        for name, mode in (("grpc_batching_off", "off"), ("grpc_batching_on", "on"),
                           ("grpc_bare", "bare")):
            process, port, _ = servers[mode]
            throughput[name] = concurrent_throughput(port, process.pid, request, args.seconds)
        batch = np.repeat(image, CLIENTS, axis=0)
        for _ in range(10):
            function(images=tf.constant(batch))
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds / 2:
            function(images=tf.constant(batch))["probabilities"].numpy()
            count += CLIENTS
        throughput["direct_batch_32"] = {"images_per_s": count / (time.perf_counter() - start),
                                         "failed": 0}
    finally:
        for process, _, _ in servers.values():
            process.terminate()
            process.wait(timeout=60)

    report = write_report(latency, throughput, args)
    print(json.dumps(report, indent=2))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def concurrent_throughput(port: int, server_pid: int, request, seconds: float) -> dict:
    """32 clients in a closed loop: each sends its next request when its answer arrives.

    The clients are asynchronous calls (stub.Predict.future), not 32 Python threads, so that
    the load generator's own GIL contention does not cap what the server can show. The CPU
    time the server and the clients spend per request is measured too: server and clients
    share the machine's cores, so cores ÷ (their CPU per request) bounds the requests/s.
    """
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    for _ in range(20):
        stub.Predict(request, timeout=30)
    counts = {"done": 0, "failed": 0, "running": CLIENTS}
    lock = threading.Condition()
    stop_at = time.perf_counter() + seconds

    def send() -> None:
        stub.Predict.future(request, timeout=30).add_done_callback(on_done)

    def on_done(future) -> None:
        with lock:
            counts["failed" if future.exception() else "done"] += 1
            again = time.perf_counter() < stop_at
            if not again:
                counts["running"] -= 1
                lock.notify_all()
        if again:
            send()

    start = time.perf_counter()
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    for _ in range(CLIENTS):
        send()
    with lock:
        lock.wait_for(lambda: counts["running"] == 0, timeout=seconds + 60)
    elapsed = time.perf_counter() - start
    server_cpu = cpu_seconds(server_pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    channel.close()
    answered = max(1, counts["done"])
    per_request_ms = {"server": 1e3 * server_cpu / answered,
                      "clients": 1e3 * client_cpu / answered}
    return {"images_per_s": counts["done"] / elapsed, "failed": counts["failed"],
            "cpu_ms_per_request": per_request_ms,
            "cpu_bound_requests_per_s": os.cpu_count() * 1e3 / sum(per_request_ms.values())}


def write_report(latency: dict, throughput: dict, args: argparse.Namespace) -> dict:
    direct = latency["direct"]["p50_ms"]
    overhead = {k: latency[k]["p50_ms"] - direct for k in ("grpc", "rest")}
    overhead["grpc_tflite"] = latency["grpc_tflite"]["p50_ms"] - \
        latency["direct_tflite"]["p50_ms"]
    floor = latency["grpc_bare"]["p50_ms"]
    batched_share = throughput["grpc_batching_on"]["images_per_s"] / \
        throughput["direct_batch_32"]["images_per_s"]
    gain = throughput["grpc_batching_on"]["images_per_s"] / \
        throughput["grpc_batching_off"]["images_per_s"]
    bare_share = throughput["grpc_batching_on"]["images_per_s"] / \
        throughput["grpc_bare"]["images_per_s"]
    report = {
        "model": "mobilenet_v1 alpha 0.25, 32 px, 10 classes (float [N,32,32,3] signature)",
        "cores": os.cpu_count(), "load_average_1_5_15": list(os.getloadavg()),
        "latency_batch_1": latency,
        "overhead_p50_ms": overhead, "target_grpc_overhead_p50_ms": 1.0,
        "bare_grpcio_round_trip_p50_ms": floor,
        "grpc_overhead_beyond_bare_grpcio_p50_ms": overhead["grpc"] - floor,
        "meets_grpc_overhead_target": overhead["grpc"] <= 1.0,
        "meets_rest_within_1ms_of_grpc": overhead["rest"] - overhead["grpc"] <= 1.0,
        "tensorflow_thread_pools": args.pools,
        "batching_share_of_direct_batch_32": batched_share,
        "batching_share_of_bare_grpcio": bare_share,
        "meets_batching_share_target": batched_share >= 0.5,
        "throughput_32_clients": throughput, "batching_gain": gain,
        "target_batching_gain": 2.0, "meets_batching_target": gain >= 2.0,
        "batching_parameters": BATCHING.strip().splitlines(), "requests": args.requests,
        "seconds": args.seconds}
    lines = ["| batch-1 path | p50 ms | p99 ms | overhead over direct (p50) |",
             "| --- | ---: | ---: | ---: |"]
    for name, label in (("direct_restored", "direct call of the restored signature"),
                        ("direct", "direct call, traced as the server calls it (matched)"),
                        ("grpc", "gRPC (official stub)"),
                        ("rest", "REST (JSON, keep-alive)"),
                        ("direct_tflite", "direct LiteRT call"),
                        ("grpc_tflite", "gRPC, --prefer_tflite_model"),
                        ("grpc_bare", "gRPC, bare grpcio servicer (constant answer, no model)")):
        extra = ("-" if name.startswith("direct") else f"{floor:+.2f} ms (the floor)"
                 if name == "grpc_bare" else f"{overhead[name]:+.2f} ms")
        lines.append(f"| {label} | {latency[name]['p50_ms']:.2f} | "
                     f"{latency[name]['p99_ms']:.2f} | {extra} |")
    lines += ["", f"| {CLIENTS} concurrent gRPC clients, batch 1 | images/s | failed | server "
                  "CPU ms / request | clients' CPU ms / request | CPU-bound ceiling, requests/s |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, label in (("grpc_batching_off", "server batching off"),
                        ("grpc_batching_on", "server batching on"),
                        ("direct_batch_32", "direct batched call (32)"),
                        ("grpc_bare", "bare grpcio servicer (constant answer, no model)")):
        row = throughput[name]
        cpu = row.get("cpu_ms_per_request")
        extra = (f"{cpu['server']:.2f} | {cpu['clients']:.2f} | "
                 f"{row['cpu_bound_requests_per_s']:,.0f}" if cpu else "- | - | -")
        lines.append(f"| {label} | {row['images_per_s']:,.0f} | {row['failed']} | {extra} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", f"gRPC overhead p50 {overhead['grpc']:.2f} ms (target ≤ 1 ms), of which "
                  f"grpcio's own round trip {floor:.2f} ms and the model server's work "
                  f"{overhead['grpc'] - floor:.2f} ms; REST "
                  f"{overhead['rest'] - overhead['grpc']:+.2f} ms over gRPC (target ≤ 1 ms); "
                  f"LiteRT over gRPC {overhead['grpc_tflite']:+.2f} ms; batching gain "
                  f"{gain:.2f}× (target ≥ 2×), {batched_share:.0%} of the direct batch-32 call "
                  f"(target ≥ 50 %) and {bare_share:.0%} of what the bare grpcio servicer "
                  f"answers; TensorFlow pools intra {args.pools['intra_op']} / inter "
                  f"{args.pools['inter_op']} (0: TensorFlow's default); {os.cpu_count()} cores, "
                  f"load average {load}"]
    table = "\n".join(lines)
    benchmark_results.write("serving_overhead", report, table)
    print(table)
    return report


if __name__ == "__main__":
    main()
