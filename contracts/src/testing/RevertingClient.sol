// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IJobManager} from "../../package/IJobManager.sol";
import {ILilypadJobClient} from "../../package/ILilypadJobClient.sol";

/// Test double for a broken or hostile client: its completion callback reverts with 64 KiB of revert data (which
/// the JobManager must not copy whole), its failure callback with a named error. Until `fix()`: then both work,
/// so a retried callback can be seen to arrive.
contract RevertingClient is ILilypadJobClient {
    IJobManager public immutable jobManager;
    bool public fixed_;
    uint256 public delivered;

    error ClientBroken();

    constructor(IJobManager jobManager_) {
        jobManager = jobManager_;
    }

    function order(string calldata module, uint32 callbackGasLimit, uint32 timeout) external returns (uint256) {
        uint256 price = jobManager.quote(module, callbackGasLimit);
        jobManager.token().approve(address(jobManager), price);
        return jobManager.runJob(module, new IJobManager.Input[](0), callbackGasLimit, timeout, price);
    }

    function fix() external {
        fixed_ = true;
    }

    function lilypadJobCompleted(uint256, string calldata, int32, bytes calldata) external {
        if (!fixed_) {
            assembly {
                revert(0, 65536)
            }
        }
        delivered++;
    }

    function lilypadJobFailed(uint256, string calldata) external {
        if (!fixed_) revert ClientBroken();
        delivered++;
    }
}
