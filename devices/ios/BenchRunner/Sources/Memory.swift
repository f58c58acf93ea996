import Darwin

/// The app's phys_footprint (what iOS counts against its memory limit) now and at its highest, in MB.
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
