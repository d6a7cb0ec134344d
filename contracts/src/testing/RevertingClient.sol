// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ILilypadJobClient} from "../LilypadTypes.sol";
import {JobManager} from "../JobManager.sol";

/// Test double for a broken client: orders a job, then reverts in every callback. Used to prove the JobManager
/// still settles and refunds.
contract RevertingClient is ILilypadJobClient {
    JobManager public immutable jobManager;

    error ClientBroken();

    constructor(JobManager jobManager_) {
        jobManager = jobManager_;
    }

    function order(uint96 payment, uint32 timeout) external returns (uint256) {
        jobManager.token().approve(address(jobManager), payment);
        return jobManager.runJob("cowsay:v0.0.1", new JobManager.Input[](0), payment, timeout);
    }

    function lilypadJobCompleted(uint256, bytes32, string calldata) external pure {
        revert ClientBroken();
    }

    function lilypadJobFailed(uint256, string calldata) external pure {
        revert ClientBroken();
    }
}
