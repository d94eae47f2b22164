// The probe device of the host these what-ifs were checked on (`pcsim calibrate --out`); a device profile, not a
// scenario (hence not .ron: the bundled-scenario tests load every .ron under scenarios/).
// pcsim calibrate on kernel 6.18.44-fc-v1300: the probe's scratch loop device
// measured with O_DIRECT on a file of the scratch ext4: sequential 1 MiB reads 582 MiB/s, writes 749 MiB/s;
// 4 KiB random reads at queue depth 1 505 us, writes 231 us; 4 KiB random reads at queue depth 32 49390 IOPS.
// Latencies below are the queue-depth-1 times less the 4 KiB transfer at the measured bandwidth.
(name: "disk0", read_bw: "582m", write_bw: "749m", read_latency: "498us", write_latency: "226us", queue_depth: 32)
