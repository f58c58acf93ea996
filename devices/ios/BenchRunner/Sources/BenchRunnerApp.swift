import SwiftUI

/// Launched by bench with a job's arguments: runs it, writes the result file, and exits.
/// Launched by hand (no arguments), it shows what it is for.
@main
struct BenchRunnerApp: App {
    init() {
        let argv = ProcessInfo.processInfo.arguments
        guard argv.contains("--job-id") else { return }
        Task.detached(priority: .userInitiated) {
            let document: [String: Any]
            var target = ""
            do {
                let args = try Arguments.parse(argv)
                target = args.result
                document = await Runner(args: args).run()
            } catch {
                document = ["format": "bench-runner-result/1", "status": "failed", "error": "\(error)",
                            "compute_units": "all", "latencies_ms": []]
                target = Self.value(after: "--result", in: argv) ?? "Documents/results/unknown.json"
            }
            let url = Arguments.url(target)
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                     withIntermediateDirectories: true)
            if let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]) {
                try? data.write(to: url, options: .atomic)  // bench never reads a half-written result
            }
            exit(0)
        }
    }

    static func value(after flag: String, in argv: [String]) -> String? {
        guard let i = argv.firstIndex(of: flag), i + 1 < argv.count else { return nil }
        return argv[i + 1]
    }

    var body: some Scene {
        WindowGroup {
            Text("BenchRunner runs Core ML benchmark jobs sent by `python -m bench run --device iphone`.")
                .padding()
        }
    }
}
