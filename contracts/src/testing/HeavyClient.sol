// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IJobManager} from "../../package/IJobManager.sol";
import {LilypadJobClient} from "../../package/LilypadJobClient.sol";

/// A client whose callbacks cost real gas, like the ones that starved under a 300k fixed stipend and an
/// eth_estimateGas-based limit: the completion writes several fresh storage slots (CID, output, exit code, a
/// counter, a timestamp), the failure stores the (long) reason.
contract HeavyClient is LilypadJobClient {
    struct Record {
        string cid;
        bytes output;
        int32 exitCode;
        uint64 receivedAt;
        bool done;
    }

    mapping(uint256 => Record) public records;
    mapping(uint256 => string) public failures;
    uint256 public completed;
    uint256 public failed;

    constructor(IJobManager jobManager_) LilypadJobClient(jobManager_) {}

    function order(string calldata module, IJobManager.Input[] calldata inputs, uint32 callbackGasLimit, uint32 timeout)
        external
        returns (uint256)
    {
        return _requestJob(module, inputs, callbackGasLimit, timeout);
    }

    function dispute(uint256 jobId) external {
        _disputeJob(jobId);
    }

    function cancel(uint256 jobId) external {
        _cancelJob(jobId);
    }

    function _onJobCompleted(uint256 jobId, string calldata resultCid, int32 exitCode, bytes calldata output)
        internal
        override
    {
        records[jobId] = Record(resultCid, output, exitCode, uint64(block.timestamp), true);
        completed++;
    }

    function _onJobFailed(uint256 jobId, string calldata reason) internal override {
        failures[jobId] = reason;
        failed++;
    }
}
