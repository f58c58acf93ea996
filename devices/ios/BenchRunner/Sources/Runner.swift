import CoreML
import Foundation

/// One job: compile and load the model, time it the way TFLite's benchmark_model does, optionally
/// classify the pushed images, and describe it all in a `bench-runner-result/1` document.
struct Runner {
    let args: Arguments

    func run() async -> [String: Any] {
        var result: [String: Any] = ["format": "bench-runner-result/1", "job_id": args.jobId, "model": args.model,
                                     "compute_units": args.computeUnits, "runner": Self.runnerInfo(),
                                     "thermal_state_before": Self.thermal()]
        do {
            try await measure(into: &result)
            result["status"] = "ok"
            result["error"] = NSNull()
        } catch {
            result["status"] = "failed"
            result["error"] = "\(error)"
        }
        result["thermal_state_after"] = Self.thermal()
        return result
    }

    private func measure(into result: inout [String: Any]) async throws {
        let configuration = MLModelConfiguration()
        configuration.computeUnits = try Self.units(args.computeUnits)

        // memory by phase: compiling and loading can peak far above what predictions hold (bench's table shows
        // the predictions' peak; the lifetime peak includes all three)
        var footprint: [String: Double] = [:]
        let phase = PhaseSampler()

        var start = DispatchTime.now()
        phase.begin()
        let compiled = try await MLModel.compileModel(at: Arguments.url(args.model))
        footprint["compile_peak"] = phase.end()
        result["compile_ms"] = Self.ms(since: start)

        start = DispatchTime.now()
        phase.begin()
        let model = try MLModel(contentsOf: compiled, configuration: configuration)
        footprint["load_peak"] = phase.end()
        result["load_ms"] = Self.ms(since: start)
        footprint["after_load"] = Memory.footprint()?.now
        result["phys_footprint_mb"] = footprint

        let input = model.modelDescription.inputDescriptionsByName.first!
        let shape = try args.inputShape ?? Self.fixedShape(input.value)
        result["input"] = ["name": input.key, "shape": shape, "dtype": "float32"]
        let pixels = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
        Self.fillRandom(pixels)  // timing does not depend on the values; a seeded pattern keeps runs comparable
        let features = try MLDictionaryFeatureProvider(dictionary: [input.key: MLFeatureValue(multiArray: pixels)])

        let warmup = try loop(model, features, runs: args.warmupRuns, minSecs: args.warmupMinSecs)
        result["warmup_ms"] = warmup
        result["first_prediction_ms"] = warmup.first ?? NSNull()
        phase.begin()
        result["latencies_ms"] = try loop(model, features, runs: args.numRuns, minSecs: args.minSecs)
        footprint["predict_peak"] = phase.end()

        switch await Self.computePlan(compiled, configuration) {
        case .success(let plan): result["compute_plan"] = plan
        case .failure(let why): result["compute_plan_unavailable"] = "\(why)"
        }
        if let inputs = args.inputs, let inputsShape = args.inputsShape {
            let top5 = try classify(model, inputName: input.key, file: inputs, shape: inputsShape)
            result["accuracy"] = ["images": top5.count, "top5": top5]
        }
        footprint["peak"] = Memory.footprint()?.peak  // the lifetime peak: compile, load and predictions
        result["phys_footprint_mb"] = footprint
    }

    /// Runs until both `runs` and `minSecs` are reached, never past `args.maxSecs` (benchmark_model's rule).
    private func loop(_ model: MLModel, _ features: MLFeatureProvider, runs: Int, minSecs: Double) throws -> [Double] {
        var times: [Double] = []
        let began = DispatchTime.now()
        while true {
            let elapsed = Self.ms(since: began) / 1000
            if (times.count >= runs && elapsed >= minSecs) || (elapsed >= args.maxSecs && !times.isEmpty) { break }
            let start = DispatchTime.now()
            _ = try model.prediction(from: features)
            times.append(Self.ms(since: start))
        }
        return times
    }

    /// Top-5 classes of each image in a raw uint8 (N, H, W, 3) file, scaled as bench says.
    private func classify(_ model: MLModel, inputName: String, file: String, shape: [Int]) throws -> [[Int]] {
        let data = try Data(contentsOf: Arguments.url(file))
        guard shape.count == 4, data.count == shape.reduce(1, *) else {
            throw RunnerError.inputs("\(file) has \(data.count) bytes, not \(shape)")
        }
        let perImage = shape[1] * shape[2] * 3
        let array = try MLMultiArray(shape: [1, shape[1], shape[2], 3].map { NSNumber(value: $0) }, dataType: .float32)
        let pointer = array.dataPointer.bindMemory(to: Float.self, capacity: perImage)
        var rows: [[Int]] = []
        for image in 0..<shape[0] {
            data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                for i in 0..<perImage {
                    var v = Float(bytes[image * perImage + i])
                    if let mean = args.mean, let std = args.std { v = (v - mean[i % 3]) / std[i % 3] }
                    pointer[i] = v
                }
            }
            let provider = try MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(multiArray: array)])
            let output = try model.prediction(from: provider)
            guard let name = output.featureNames.first, let scores = output.featureValue(for: name)?.multiArrayValue
            else { throw RunnerError.model("no multi-array output") }
            let values = (args.labelOffset..<scores.count).map { (index: $0 - args.labelOffset,
                                                                   score: scores[$0].doubleValue) }
            rows.append(values.sorted { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
                .prefix(5).map { $0.index })
        }
        return rows
    }

    /// Operations per compute device from MLComputePlan, which the iOS 17.4 SDK (Xcode 15.3, Swift 5.10)
    /// first has: `#available` alone does not build on older SDKs, so the code is compiled only where the
    /// SDK has it, and older builds or older iOS say why there is no plan.
    private static func computePlan(_ compiled: URL, _ configuration: MLModelConfiguration) async
        -> Result<[String: Int], RunnerError> {
        #if compiler(>=5.10)
        guard #available(iOS 17.4, *) else { return .failure(.unavailable("compute plan needs iOS 17.4")) }
        do {
            let plan = try await MLComputePlan.load(contentsOf: compiled, configuration: configuration)
            var counts = ["cpu": 0, "gpu": 0, "neuralEngine": 0]
            guard case .program(let program) = plan.modelStructure, let main = program.functions["main"] else {
                return .success(counts)
            }
            for operation in main.block.operations {
                switch plan.deviceUsage(for: operation)?.preferred {
                case .cpu: counts["cpu", default: 0] += 1
                case .gpu: counts["gpu", default: 0] += 1
                case .neuralEngine: counts["neuralEngine", default: 0] += 1
                default: break
                }
            }
            return .success(counts)
        } catch {
            return .failure(.unavailable("compute plan failed: \(error)"))
        }
        #else
        return .failure(.unavailable("compute plan unavailable: BenchRunner was built before Xcode 15.3"))
        #endif
    }

    private static func units(_ name: String) throws -> MLComputeUnits {
        switch name {
        case "cpuOnly": return .cpuOnly
        case "cpuAndGPU": return .cpuAndGPU
        case "cpuAndNeuralEngine": return .cpuAndNeuralEngine
        case "all": return .all
        default: throw RunnerError.arguments("unknown compute units \(name)")
        }
    }

    private static func fixedShape(_ description: MLFeatureDescription) throws -> [Int] {
        guard let constraint = description.multiArrayConstraint else { throw RunnerError.model("input is not a multi-array") }
        return constraint.shape.map { $0.intValue }
    }

    private static func fillRandom(_ array: MLMultiArray) {
        let pointer = array.dataPointer.bindMemory(to: Float.self, capacity: array.count)
        var state: UInt32 = 12345
        for i in 0..<array.count {
            state = state &* 1_103_515_245 &+ 12345
            pointer[i] = Float(state >> 16 & 0xFF)
        }
    }

    private static func ms(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1_000_000
    }

    private static func thermal() -> String {
        switch ProcessInfo.processInfo.thermalState {
        case .nominal: return "nominal"
        case .fair: return "fair"
        case .serious: return "serious"
        case .critical: return "critical"
        @unknown default: return "unknown"  // a state newer than this build: said as such, never guessed
        }
    }

    private static func runnerInfo() -> [String: String] {
        var system = utsname()
        uname(&system)
        let machine = withUnsafeBytes(of: &system.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let bundle = Bundle.main
        return ["version": bundle.object(forInfoDictionaryKey: "CFBundleShortVersionString") as? String ?? "?",
                "build": bundle.object(forInfoDictionaryKey: "CFBundleVersion") as? String ?? "?",
                "os": "iOS \(Self.osVersion())", "machine": machine]
    }

    /// "17.4.1", as the result format documents `runner.os` ("iOS 17.4.1"); operatingSystemVersionString
    /// is "Version 17.4.1 (Build 21E236)", meant for people, not parsers.
    private static func osVersion() -> String {
        let v = ProcessInfo.processInfo.operatingSystemVersion
        return v.patchVersion > 0 ? "\(v.majorVersion).\(v.minorVersion).\(v.patchVersion)"
            : "\(v.majorVersion).\(v.minorVersion)"
    }
}
