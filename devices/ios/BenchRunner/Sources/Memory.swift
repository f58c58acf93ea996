import Darwin
import Foundation

/// The app's phys_footprint (what iOS counts against its memory limit) now and at its highest, in MB.
/// `ledger_phys_footprint_peak` is the process's lifetime peak: it cannot be reset, so a phase's own
/// peak comes from `PhaseSampler`.
enum Memory {
    static func footprint() -> (now: Double, peak: Double)? {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let status = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        guard status == KERN_SUCCESS else { return nil }
        let mb = 1024.0 * 1024.0
        return (Double(info.phys_footprint) / mb, Double(info.ledger_phys_footprint_peak) / mb)
    }
}

/// The highest phys_footprint within one phase (compile, load, timed predictions): read every 5 ms on a
/// background queue while the phase runs, and the lifetime peak where it rose during the phase (a
/// spike between two readings still counts). One task_info call per reading: the timed predictions
/// share the CPU with a few hundred microseconds of it per second.
final class PhaseSampler {
    private let queue = DispatchQueue(label: "bench.memory", qos: .utility)
    private var timer: DispatchSourceTimer?
    private var highest = 0.0
    private var ledgerBefore = 0.0

    func begin() {
        let start = Memory.footprint()
        queue.sync { highest = start?.now ?? 0; ledgerBefore = start?.peak ?? 0 }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: .milliseconds(5))
        timer.setEventHandler { [weak self] in
            guard let self, let now = Memory.footprint()?.now else { return }
            self.highest = max(self.highest, now)
        }
        timer.resume()
        self.timer = timer
    }

    /// The phase's peak in MB, or nil when the footprint cannot be read.
    func end() -> Double? {
        timer?.cancel()
        timer = nil
        guard let after = Memory.footprint() else { return nil }
        return queue.sync {
            let rose = after.peak > ledgerBefore + 0.01  // the lifetime peak was set in this phase
            return max(highest, after.now, rose ? after.peak : 0)
        }
    }
}
