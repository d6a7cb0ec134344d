// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// What a contract implements to receive the outcome of the jobs it orders from a Lilypad JobManager.
/// Extend `LilypadJobClient` rather than implementing this by hand: it checks that only the JobManager calls.
///
/// Each callback runs with exactly the gas the request asked for (`callbackGasLimit`, paid in the request): the
/// JobManager refuses to make the call with less. A callback that reverts or runs out of gas changes nothing in
/// the JobManager (payment and state are final before the call); anyone can deliver it again with
/// `IJobManager.retryCallback`, and `IJobManager.resultOf` keeps the result readable.
interface ILilypadJobClient {
    /// The job ran. `resultCid` names the whole result directory on IPFS (stdout, stderr, exitCode, outputs/);
    /// `output` is the first bytes of its stdout (at most 1 KiB), `exitCode` the container's exit code.
    /// The result can still be disputed until its dispute window closes (`IJobManager.disputeJob`).
    function lilypadJobCompleted(uint256 jobId, string calldata resultCid, int32 exitCode, bytes calldata output)
        external;

    /// The job did not run (no provider, a module or input the bridge refuses, expired), or its result was judged
    /// wrong after a dispute. The payment has been refunded to the client before this call.
    function lilypadJobFailed(uint256 jobId, string calldata reason) external;
}
