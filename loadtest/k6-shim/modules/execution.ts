import { vu as data } from './vu-port.js';

/** The parts of k6/execution the scripts read: the VU's id and the iteration's number in the test. */
export const vu = { idInTest: data.vuIdInTest, iterationInScenario: data.iterationInTest, iterationInInstance: data.iterationInTest, idInInstance: data.vuIdInTest };
export const scenario = { name: data.scenario, iterationInTest: data.iterationInTest, iterationInInstance: data.iterationInTest };

export default { vu, scenario };
