import Foundation

/// What bench passes on the command line (DVT process control launch arguments).
///
///     --job-id ID --model Documents/models/<sha256>.mlpackage --compute-units all
///     --num-runs 50 --min-secs 1 --max-secs 150 --warmup-runs 1 --warmup-min-secs 0.5
///     --result Documents/results/<job>.json [--input-shape 1,160,160,3]
///     [--inputs Documents/inputs/<set>.u8 --inputs-shape N,H,W,3 --label-offset 0 [--mean a,b,c --std a,b,c]]
struct Arguments {
    var jobId = ""
    var model = ""
    var computeUnits = "all"
    var numRuns = 50
    var minSecs = 1.0
    var maxSecs = 150.0
    var warmupRuns = 1
    var warmupMinSecs = 0.5
    var result = ""
    var inputShape: [Int]? = nil
    var inputs: String? = nil
    var inputsShape: [Int]? = nil
    var labelOffset = 0
    var mean: [Float]? = nil
    var std: [Float]? = nil

    static func parse(_ argv: [String]) throws -> Arguments {
        var a = Arguments()
        var values: [String: String] = [:]
        var i = 1
        while i + 1 < argv.count {
            if argv[i].hasPrefix("--") { values[String(argv[i].dropFirst(2))] = argv[i + 1]; i += 2 } else { i += 1 }
        }
        func ints(_ s: String) -> [Int] { s.split(separator: ",").compactMap { Int($0) } }
        func floats(_ s: String) -> [Float] { s.split(separator: ",").compactMap { Float($0) } }
        guard let job = values["job-id"], let model = values["model"], let result = values["result"] else {
            throw RunnerError.arguments("--job-id, --model and --result are required")
        }
        a.jobId = job; a.model = model; a.result = result
        if let v = values["compute-units"] { a.computeUnits = v }
        if let v = values["num-runs"].flatMap(Int.init) { a.numRuns = v }
        if let v = values["min-secs"].flatMap(Double.init) { a.minSecs = v }
        if let v = values["max-secs"].flatMap(Double.init) { a.maxSecs = v }
        if let v = values["warmup-runs"].flatMap(Int.init) { a.warmupRuns = v }
        if let v = values["warmup-min-secs"].flatMap(Double.init) { a.warmupMinSecs = v }
        a.inputShape = values["input-shape"].map(ints)
        a.inputs = values["inputs"]
        a.inputsShape = values["inputs-shape"].map(ints)
        if let v = values["label-offset"].flatMap(Int.init) { a.labelOffset = v }
        a.mean = values["mean"].map(floats)
        a.std = values["std"].map(floats)
        return a
    }

    /// A path bench gave, relative to the app's container (where house_arrest pushed it).
    static func url(_ relative: String) -> URL {
        URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(relative)
    }
}

enum RunnerError: Error, CustomStringConvertible {
    case arguments(String)
    case model(String)
    case inputs(String)
    case unavailable(String)

    var description: String {
        switch self {
        case .arguments(let m): return "arguments: \(m)"
        case .model(let m): return "model: \(m)"
        case .unavailable(let m): return m
        case .inputs(let m): return "inputs: \(m)"
        }
    }
}
